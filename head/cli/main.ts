#!/usr/bin/env node
// Entry point of the nokube binary (scripts/build.ts bundles the same call).
import { runNokube } from './entry.ts';

await runNokube(process.argv);
// Whatever a library left open (timers, sockets) must not keep a finished command alive.
process.exit();
