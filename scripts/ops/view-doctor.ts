// The doctor's report for people: one line per check, and for anything not green the command to
// run next and the likely cause.
import { paint, wrap } from './ansi';
import type { Check, DoctorReport, Verdict } from './doctor/run';

const groupTitles: Record<Check['group'], string> = {
  cluster: 'Cluster',
  namespaces: 'Namespaces',
  database: 'Database (wave 0)',
  backups: 'Backups (wave 0): last good backup and restore check',
  secrets: 'Secrets synced from AWS Secrets Manager',
  api: 'API (wave 1): configuration, DNS names, Knative Service',
  web: 'Web (wave 2): API upstream, nginx Deployment, Service',
  network: 'NetworkPolicies',
};

export function formatDoctorReport(report: DoctorReport, options: { color: boolean; verbose?: boolean; width?: number }): string {
  const width = options.width ?? 100;
  const p = paint(options.color);
  const mark: Record<Verdict, string> = { pass: p.green('✓'), warn: p.yellow('!'), fail: p.red('✗'), unknown: p.yellow('?') };
  const lines: string[] = [];
  lines.push(`${p.bold('tasks doctor')}  ${p.dim('env')} ${report.env}  ${p.dim('context')} ${report.context}  ${p.dim(report.checkedAt.replace('T', ' ').slice(0, 19) + ' UTC')}`);
  let group: Check['group'] | undefined;
  for (const c of report.checks) {
    if (c.group !== group) {
      group = c.group;
      lines.push('', p.bold(groupTitles[c.group]));
    }
    if (c.verdict === 'pass') {
      lines.push(`  ${mark.pass} ${c.title}  ${p.dim(c.detail)}`);
    } else {
      // What is wrong gets room: one fact per line, wrapped, under the check's title.
      lines.push(`  ${mark[c.verdict]} ${c.verdict === 'fail' ? p.bold(c.title) : c.title}`);
      for (const fact of c.detail.split('; ')) lines.push(...wrap(fact, width - 6, '      ').map((l, i) => (i ? l : `      ${l}`)));
    }
    const indent = '      ';
    if (c.verdict !== 'pass' || options.verbose) {
      if (c.cause) lines.push(...wrap(`likely cause: ${c.cause}`, width - 6, `${indent}  `).map((l, i) => (i ? l : `${indent}${p.dim('likely cause:')}${l.slice('likely cause:'.length)}`)));
      // Commands stay on one line so they can be copied.
      if (c.next) lines.push(`${indent}${p.dim('next:')} ${p.cyan(c.next)}`);
    }
  }
  const { pass, warn, fail, unknown } = report.counts;
  const parts = [`${pass} passed`, warn ? p.yellow(`${warn} warning${warn === 1 ? '' : 's'}`) : '', fail ? p.red(`${fail} failed`) : '', unknown ? p.yellow(`${unknown} not checked`) : ''].filter(Boolean);
  lines.push('', `${report.ok ? p.green('All good.') : p.red('Something is wrong.')} ${report.checks.length} checks: ${parts.join(', ')}`);
  return lines.join('\n');
}
