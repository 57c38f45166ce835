#!/usr/bin/env node
// Ctrl-C and SIGTERM are handled from the first moment: loading the CLI's modules takes a few
// hundred milliseconds, and an interrupt then is said and exits 130 as it does later.
import { catchInterruptsFromLaunch } from './interrupt.js';

const launch = catchInterruptsFromLaunch(process.argv.slice(2));
const { hideBin } = await import('yargs/helpers');
const { main } = await import('./main.js');

// A closed pipe (e.g. `| head`) ends the output quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await main(hideBin(process.argv));
launch.finished();
