import { z } from 'zod';
import { BOUNDS, MOR, type MorText } from './messages.ts';

/**
 * Field validation of a call (../shared/DESIGN.md section 2, "Field validation").
 * MOR's five checks run in MOR's order and only the first failure is answered; then
 * the bounds MOR leaves to MySQL. Each rule aborts the rest, so the first issue zod
 * reports is the answer.
 */

/** A field as the worker sees it: text decoded leniently, and whether it was valid UTF-8. */
export interface FieldText {
  text: string;
  validUtf8: boolean;
}

export interface RecordFields {
  name: FieldText;
  number: FieldText;
  speeddial: FieldText;
}

const BLANK = /^\p{White_Space}*$/u;
const ASCII_DIGITS = /^[0-9]+$/;

function codePoints(text: string): number {
  let count = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    // A surrogate pair is one code point; count its high half only.
    if (code < 0xdc00 || code > 0xdfff) count++;
  }
  return count;
}

interface Rule {
  path: keyof RecordFields;
  answer: MorText;
  passes: (fields: RecordFields) => boolean;
}

const RULES: Rule[] = [
  { path: 'name', answer: MOR.nameMissing, passes: (f) => !BLANK.test(f.name.text) },
  { path: 'number', answer: MOR.numberEmpty, passes: (f) => f.number.text !== '' },
  {
    path: 'speeddial',
    answer: MOR.speeddialShort,
    passes: (f) => codePoints(f.speeddial.text) >= 2,
  },
  {
    path: 'number',
    answer: MOR.numberNotNumeric,
    passes: (f) => ASCII_DIGITS.test(f.number.text),
  },
  {
    path: 'speeddial',
    answer: MOR.speeddialNotNumeric,
    passes: (f) => ASCII_DIGITS.test(f.speeddial.text),
  },
  {
    path: 'name',
    answer: BOUNDS.nameInvalidText,
    passes: (f) => f.name.validUtf8 && !f.name.text.includes('\0'),
  },
  {
    path: 'name',
    answer: BOUNDS.nameTooLong,
    passes: (f) => codePoints(f.name.text) <= 255,
  },
  {
    path: 'number',
    answer: BOUNDS.numberTooLong,
    passes: (f) => f.number.text.length <= 255,
  },
  {
    path: 'speeddial',
    answer: BOUNDS.speeddialTooLong,
    passes: (f) => f.speeddial.text.length <= 50,
  },
];

const fieldText = z.object({ text: z.string(), validUtf8: z.boolean() });

const recordFields = RULES.reduce(
  (schema, rule) =>
    schema.refine(rule.passes, {
      message: rule.answer.text,
      path: [rule.path],
      abort: true,
    }),
  z.object({ name: fieldText, number: fieldText, speeddial: fieldText }),
);

const ANSWER_BY_TEXT = new Map(RULES.map((rule) => [rule.answer.text, rule.answer]));

/** The first failing rule's answer, or undefined when the fields are valid. */
export function validateRecordFields(fields: RecordFields): MorText | undefined {
  const parsed = recordFields.safeParse(fields);
  if (parsed.success) return undefined;

  const message = parsed.error.issues[0]?.message ?? '';
  const answer = ANSWER_BY_TEXT.get(message);
  if (answer === undefined)
    throw new Error(`validation gave an unknown issue: ${message}`);
  return answer;
}
