/**
 * Joins Prometheus text expositions (version 0.0.4) into one. The format allows one
 * `# HELP` and one `# TYPE` line per metric family and wants a family's samples
 * together; BullMQ's `exportPrometheusMetrics` writes both lines again for every queue,
 * so two queues' outputs cannot simply be concatenated.
 */

interface Family {
  help?: string;
  type?: string;
  samples: string[];
}

const COMMENT = /^# (HELP|TYPE) (\S+)/;
const SAMPLE_NAME = /^[^\s{]+/;

/**
 * The family a sample belongs to: the family named by the last comment, when the
 * sample's name starts with it (histograms add `_bucket`, `_sum`, `_count`); else its
 * own name.
 */
function familyOf(sample: string, current: string | undefined): string {
  const name = SAMPLE_NAME.exec(sample)?.[0] ?? sample;
  return current !== undefined && name.startsWith(current) ? current : name;
}

function familyAt(families: Map<string, Family>, name: string): Family {
  let family = families.get(name);
  if (family === undefined) {
    family = { samples: [] };
    families.set(name, family);
  }
  return family;
}

function readInto(families: Map<string, Family>, text: string): void {
  let current: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const comment = COMMENT.exec(line);
    if (comment !== null) {
      const [, kind, name] = comment as unknown as [string, 'HELP' | 'TYPE', string];
      current = name;
      const family = familyAt(families, name);
      if (kind === 'HELP') family.help ??= line;
      else family.type ??= line;
    } else if (!line.startsWith('#')) {
      familyAt(families, familyOf(line, current)).samples.push(line);
    }
  }
}

/** One exposition holding every family of the texts once, its samples together. */
export function mergeExpositions(texts: string[]): string {
  const families = new Map<string, Family>();
  for (const text of texts) readInto(families, text);

  const lines: string[] = [];
  for (const family of families.values()) {
    if (family.help !== undefined) lines.push(family.help);
    if (family.type !== undefined) lines.push(family.type);
    lines.push(...family.samples);
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}
