/** `cutter governance apply | approve | show`: formatting only. */
import path from 'node:path';
import { applyGovernance, approveGovernance, showGovernance, type GovernanceView } from '../../governance/commands.js';
import { InvalidInputError, EXIT } from '../../errors.js';
import type { Session } from '../../workspace/session.js';
import type { Output } from '../output.js';

/** Whether the config pins the trust root shown. */
function pinnedText(v: GovernanceView): string {
  if (!v.pinned) return 'no (set trust.root in the config to the root above)';
  return v.pinned === v.root ? 'yes (trust.root matches)' : v.pinned;
}

function lines(v: GovernanceView): string[] {
  const ttl = v.policy ? `${v.policy.approvalTtlSeconds}s` : '-';
  return [
    `  trust root  ${v.root ?? '(none: no governance recorded)'}`,
    `  pinned      ${pinnedText(v)}`,
    `  version     ${v.version}`,
    ...(v.policy
      ? [
          `  policy      ${v.policy.requiredApprovals} approval(s), TTL ${ttl}, dry run ` +
            `${v.policy.requireDryRun ? 'required' : 'optional'}, at most ${v.policy.maxRows} ` +
            `rows${v.policy.roles?.length ? `, one approver with role ${v.policy.roles.join(' or ')}` : ''}`,
        ]
      : []),
    ...(v.admins ? [`  admins      threshold ${v.admins.threshold}`] : []),
    '  members',
    ...v.members.map((m) => `    ${m.name.padEnd(12)} ${m.roles.join(', ').padEnd(28)} ${m.key}`),
    ...(v.pending
      ? [
          `  pending     version ${v.pending.version} proposed by ${v.pending.proposer}: ${v.pending.signatures} ` +
            `of ${v.pending.needed} admin signature(s)`,
        ]
      : []),
    ...v.violations.map((x) => `  violation   v${x.version} ${x.rule}: ${x.message}`),
  ];
}

export async function apply(s: Session, out: Output, file: string): Promise<number> {
  const r = await applyGovernance(s, path.resolve(file));
  const head =
    r.applied === 'genesis'
      ? `  ${out.color.green('✓')} genesis recorded. Pin it: trust: { root: "${r.root}" } in cutter.config.yaml, ` +
        `and give the root to your auditors.`
      : r.applied === 'effective'
        ? `  ${out.color.green('✓')} governance version ${r.version} is in force`
        : `  proposed version ${r.pending?.version}: ${r.pending?.signatures} of ${r.pending?.needed} admin ` +
          `signature(s); others sign with \`cutter governance approve ${r.pending?.version} --as <admin>\``;
  out.result(r, () => [head, ...lines(r)].join('\n'));
  return EXIT.ok;
}

export async function approve(s: Session, out: Output, version: string): Promise<number> {
  if (!/^[1-9][0-9]{0,8}$/.test(version))
    throw new InvalidInputError(`version: ${JSON.stringify(version)} is not a governance version number`);
  const r = await approveGovernance(s, Number(version));
  out.result(r, () =>
    [
      r.effective
        ? `  ${out.color.green('✓')} governance version ${version} is in force`
        : `  signed version ${version}`,
      ...lines(r),
    ].join('\n'),
  );
  return EXIT.ok;
}

export async function show(s: Session, out: Output, trustRoot?: string): Promise<number> {
  if (trustRoot !== undefined && !/^[0-9a-f]{64}$/.test(trustRoot))
    throw new InvalidInputError('--trust-root: the 64-hex root printed by `cutter governance show`');
  const r = await showGovernance(s, trustRoot === undefined ? {} : { trustRoot });
  out.result(r, () => lines(r).join('\n'));
  return EXIT.ok;
}
