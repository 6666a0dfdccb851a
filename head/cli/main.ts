#!/usr/bin/env node
// Entry point of the nokube binary: the agent's command line with the head part plugged in.
import { main } from '../../agent/cli/program.ts';
import { headParts } from '../head-part.ts';

await main(process.argv, headParts);
// Whatever a library left open (timers, sockets) must not keep a finished command alive.
process.exit();
