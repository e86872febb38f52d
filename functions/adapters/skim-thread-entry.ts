/**
 * What the small-file thread runs besides reading: core/record-skim, bundled on its own (esbuild,
 * as an IIFE) and evaluated before the thread's source, which finds it on globalThis. See
 * small-file-thread.ts `skimSource`.
 */
import { Skimmer } from '../core/record-skim';

const skimmer = new Skimmer();
(globalThis as { cutoverWatchSkim?: (...args: Parameters<Skimmer['skim']>) => ReturnType<Skimmer['skim']> }).cutoverWatchSkim = (bytes, normalizing) => skimmer.skim(bytes, normalizing);
