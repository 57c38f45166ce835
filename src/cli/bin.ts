#!/usr/bin/env node
import { hideBin } from 'yargs/helpers';
import { main } from './main.js';

// A closed pipe (e.g. `| head`) ends the output quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await main(hideBin(process.argv));
