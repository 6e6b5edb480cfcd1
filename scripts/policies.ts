// npm run policies: write the IAM policies of every environment to secrets/aws/<env>/ from the
// platform values (policiesFor in secrets/aws/policies.ts); a test fails while they are stale.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { renderPolicies } from '../secrets/aws/policies';
import { noFlags } from './ops/cli';

noFlags(process.argv.slice(2), 'policies', 'usage: npm run policies   (writes secrets/aws/<env>/*.json from the platform values)\n');
for (const [path, text] of renderPolicies()) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  console.log(`wrote ${path}`);
}
