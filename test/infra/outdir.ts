import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';

let outdirRoot: string | undefined;
/** Set per test file by test/infra/cdk-out.ts (a setup file), which removes the folder after the file. */
export function useOutdirRoot(root: string): void {
  outdirRoot = root;
}
/**
 * A folder for one App's cloud assembly. An App without `outdir` makes its own in the system's temp
 * folder (already when constructed) and never removes it; CDK_OUTDIR would also synth every App at exit.
 */
export function outdir(): string {
  if (outdirRoot === undefined) throw new Error('no outdir root: test/infra/cdk-out.ts is a setup file of the infra tests');
  return mkdtempSync(join(outdirRoot, 'cdk.out-'));
}
