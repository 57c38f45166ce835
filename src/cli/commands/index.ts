/**
 * The operations of onnx-manager, in the order `--help` lists them.
 */
import type { CommandDef } from '../command.js';
import { dataProcessingCommand } from './data-processing.js';
import { deployCommand } from './deploy.js';
import { listLayersCommand } from './list-layers.js';
import { predictCommand } from './predict.js';
import { printModelCommand } from './print-model.js';
import { profileCommand } from './profile.js';
import { quantModelCommand } from './quant-model.js';
import { recommendCommand } from './recommend.js';
import { runAllCommand, runCommand } from './run.js';
import { multiSplitModelCommand, splitModelAllCommand, splitModelCommand } from './split-model.js';

export const COMMANDS: readonly CommandDef<never>[] = [
  listLayersCommand,
  printModelCommand,
  splitModelCommand,
  multiSplitModelCommand,
  splitModelAllCommand,
  runCommand,
  runAllCommand,
  profileCommand,
  predictCommand,
  recommendCommand,
  deployCommand,
  quantModelCommand,
  dataProcessingCommand,
] as unknown as CommandDef<never>[];
