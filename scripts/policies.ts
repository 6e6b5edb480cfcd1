// npm run policies: write the IAM policies of every environment to secrets/aws/<env>/ from the
// platform values (policiesFor in secrets/aws/policies.ts); a test fails while they are stale.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { renderPolicies } from '../secrets/aws/policies';
import { exitCode, runCommandLine } from './ops/cli';

runCommandLine({ name: 'policies', help: 'usage: npm run policies   (writes secrets/aws/<env>/*.json from the platform values)\n', flags: {} }, () => {
  for (const [path, text] of renderPolicies()) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    console.log(`wrote ${path}`);
  }
  return exitCode.ok;
});
