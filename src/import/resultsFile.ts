import { rename, writeFile } from 'node:fs/promises';
import { csvLine } from './csv.ts';

/**
 * The results of an import: a CSV file with one line per input row, in row order:
 * `row,job_id,outcome`. It is written whole at the end of every run (finished,
 * interrupted or stopped) through a temporary file and a rename, so a reader never
 * sees half a file.
 */

export interface ResultLine {
  row: number;
  /** Empty for a row refused before it was sent, or never answered. */
  jobId: string | undefined;
  outcome: string;
}

export const RESULTS_HEADER = ['row', 'job_id', 'outcome'] as const;

export function resultsText(lines: readonly ResultLine[]): string {
  const body = lines.map((line) =>
    csvLine([String(line.row), line.jobId ?? '', line.outcome]),
  );
  return csvLine(RESULTS_HEADER) + body.join('');
}

export async function writeResults(
  path: string,
  lines: readonly ResultLine[],
): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, resultsText(lines));
  await rename(temporary, path);
}
