export const DEMO_END: string;

export interface DemoRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts the demo in `<shared>/demo` unless someone already has; returns at once. */
export function startSharedDemo(shared: string, env: NodeJS.ProcessEnv): Promise<void>;
/** The demo's run, once it has finished (started here if nobody has). */
export function sharedDemoRun(shared: string, env?: NodeJS.ProcessEnv): Promise<DemoRun>;
/** At the run's end: a demo still running is stopped, so its folder can go. */
export function stopSharedDemo(shared: string): Promise<void>;
