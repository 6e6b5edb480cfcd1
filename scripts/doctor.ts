// npm run doctor -- --env <env>: the connection troubleshooting checklist, run for you.
import { wantColor } from './ops/ansi';
import { exitCode, runCommandLine, targetsForEnv } from './ops/cli';
import { runDoctor } from './ops/doctor/run';
import { connect } from './ops/kube';
import { formatDoctorReport } from './ops/view-doctor';
import { environments } from './ops/targets';

const terminalWidth = () => process.stdout.columns || Number(process.env.COLUMNS) || 100;

const help = `Check the task app's install in one go and say what is wrong.

Usage: npm run doctor -- --env <env> [options]

Walks the install in deploy order with the kubeconfig in use: namespaces; the database
StatefulSet, its Service and endpoints; the Secrets External Secrets Operator syncs from AWS
Secrets Manager into each namespace (ExternalSecret Ready and last sync); the DNS names in the
ConfigMaps; the Knative Service and its latest revision; the web Deployment and Service; the
NetworkPolicies rendered for the environment. Each check prints ✓ / ! / ✗ / ?, and for anything
not green the likely cause and the command to run next.

Options:
  --env <env>          environment: ${environments.join(' | ')} (names come from platform/values-<env>.yaml)
  --context <name>     kubeconfig context to use (default: the current one)
  --json               print the report as JSON
  --verbose            show the next command for passing checks too
  --color, --no-color  force colours on or off (default: on for a terminal, off with NO_COLOR)
  -h, --help           show this help

Exit codes: 0 all checks pass (warnings allowed), 1 a check failed or could not be run,
2 usage, 3 no cluster / unreachable / credentials rejected, 4 permission denied (403).
`;

runCommandLine(
  {
    name: 'doctor',
    help,
    flags: {
      env: { type: 'string' },
      context: { type: 'string' },
      json: { type: 'boolean' },
      verbose: { type: 'boolean' },
      color: { type: 'boolean' },
      'no-color': { type: 'boolean' },
    },
  },
  async (a) => {
    const targets = targetsForEnv(a.env);
    const report = await runDoctor(connect({ context: a.context }), targets);
    const color = a['no-color'] ? false : a.color ? true : wantColor(process.stdout);
    process.stdout.write(a.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatDoctorReport(report, { color, verbose: a.verbose, width: terminalWidth() })}\n`);
    return report.ok ? exitCode.ok : exitCode.problems;
  },
);
