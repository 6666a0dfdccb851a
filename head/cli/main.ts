#!/usr/bin/env node
// Entry point of the nokube binary: the agent's command line with the head part plugged in.
import { main } from './program.ts';

await main(process.argv, async () => (await import('../head-part.ts')).headParts);
// Whatever a library left open (timers, sockets) must not keep a finished command alive.
process.exit();
