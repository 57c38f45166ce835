/**
 * The operations of onnx-manager, in the order `--help` lists them.
 */
import type { CommandDef } from '../command.js';
import { checkCommand } from './check.js';
import { cleanCommand } from './clean.js';
import { dataProcessingCommand } from './data-processing.js';
import { deployCommand } from './deploy.js';
import { earlyExitSplitModelCommand } from './early-exit-split-model.js';
import { listLayersCommand } from './list-layers.js';
import { predictCommand } from './predict.js';
import { printModelCommand } from './print-model.js';
import { profileCommand } from './profile.js';
import { quantModelCommand } from './quant-model.js';
import { recommendCommand } from './recommend.js';
import { runAllCommand, runCommand } from './run.js';
import { showGraphCommand } from './show-graph.js';
import { multiSplitModelCommand, splitModelAllCommand, splitModelCommand } from './split-model.js';
import { plotResultsCommand } from './plot-results.js';
import { reportCommand } from './report.js';

export const COMMANDS: readonly CommandDef<never>[] = [
  listLayersCommand,
  printModelCommand,
  splitModelCommand,
  multiSplitModelCommand,
  splitModelAllCommand,
  earlyExitSplitModelCommand,
  runCommand,
  runAllCommand,
  profileCommand,
  predictCommand,
  recommendCommand,
  plotResultsCommand,
  reportCommand,
  showGraphCommand,
  checkCommand,
  cleanCommand,
  deployCommand,
  quantModelCommand,
  dataProcessingCommand,
] as unknown as CommandDef<never>[];
