/** Writing a table of rows to a CSV file whole (a temporary name renamed into place). */
import { stringify } from 'csv-stringify/sync';
import * as path from 'node:path';
import { OutputTransaction } from '../split/output.js';

export async function writeCsvFile(file: string, columns: readonly string[], rows: readonly object[]): Promise<void> {
  const lines = [[...columns], ...rows.map((r) => columns.map((c) => (r as Record<string, unknown>)[c] ?? ''))];
  await OutputTransaction.run(path.dirname(path.resolve(file)), (tx) => tx.write(path.basename(file), stringify(lines as unknown[][])));
}
