export const cliBundle: string;
export const CHUNKS: string;
export const prestartBundle: string;
export const bundleOptions: import('esbuild').BuildOptions;
export function buildCli(): Promise<void>;
export function cliIsStale(): boolean;
