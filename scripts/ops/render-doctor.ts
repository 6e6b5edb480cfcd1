// The doctor's report for people: one line per check, and for anything not green the command to
// run next and the likely cause.
import { paint } from './ansi';
import type { Check, DoctorReport, Verdict } from './doctor';

const groupTitles: Record<Check['group'], string> = {
  cluster: 'Cluster',
  namespaces: 'Namespaces',
  database: 'Database (wave 0)',
  secrets: 'Secrets synced from AWS Secrets Manager',
  api: 'API (wave 1): configuration, DNS names, Knative Service',
  web: 'Web (wave 2): API upstream, nginx Deployment, Service',
  network: 'NetworkPolicies',
};

export function renderDoctor(report: DoctorReport, options: { color: boolean; verbose?: boolean }): string {
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
    lines.push(`  ${mark[c.verdict]} ${c.title}  ${c.verdict === 'pass' ? p.dim(c.detail) : c.detail}`);
    if (c.verdict !== 'pass' || options.verbose) {
      if (c.cause) lines.push(`      ${p.dim('likely cause:')} ${c.cause}`);
      if (c.next) lines.push(`      ${p.dim('next:')} ${p.cyan(c.next)}`);
    }
  }
  const { pass, warn, fail, unknown } = report.counts;
  const parts = [`${pass} passed`, warn ? p.yellow(`${warn} warning${warn === 1 ? '' : 's'}`) : '', fail ? p.red(`${fail} failed`) : '', unknown ? p.yellow(`${unknown} not checked`) : ''].filter(Boolean);
  lines.push('', `${report.ok ? p.green('All good.') : p.red('Something is wrong.')} ${report.checks.length} checks: ${parts.join(', ')}`);
  return lines.join('\n');
}
