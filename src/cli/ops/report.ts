/**
 * report: one self-contained HTML page of a run_all CSV, written beside it (or to --output_file).
 */
import * as path from 'node:path';
import { checkOutputFile } from '../../files.js';
import { writeReport } from '../../report/report.js';
import { humanBytes } from '../format.js';

export async function reportOp(args: { results_file: string; onnx_file?: string; output_file?: string }, out: (s: string) => void): Promise<void> {
  if (args.output_file) checkOutputFile(args.output_file, 'output_file');
  const { file, bytes } = await writeReport(args.results_file, { ...(args.onnx_file ? { onnxFile: args.onnx_file } : {}), ...(args.output_file ? { outputFile: args.output_file } : {}) });
  out(`wrote ${args.output_file ?? path.join(path.dirname(args.results_file), path.basename(file))} (${humanBytes(bytes)}, self-contained: open it in any browser)`);
}
