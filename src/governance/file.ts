/**
 * The governance file an admin writes (YAML or JSON): members with their public keys and roles, the
 * policy, the admin threshold. Validated with zod; the policy's TTL is recorded in seconds, so the
 * registry holds exactly the policy a cut records.
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { Member, MemberName, Registry } from '../../events/governance.js';
import { formatIssues } from '../config/issues.js';
import { durationSeconds, PolicyInput } from '../config/schema.js';
import { InvalidInputError } from '../errors.js';
import { readTextFile } from '../config/text-file.js';

const GovernanceFile = z.strictObject({
  members: z.record(MemberName, Member),
  policy: PolicyInput,
  admins: z.strictObject({ threshold: z.number().int().min(1) }),
});

/** Reads and validates a governance file into the registry it describes. */
export function loadGovernanceFile(file: string): Registry {
  const text = readTextFile(file, 'governance');
  let raw: unknown;
  try {
    raw = parseYaml(text, { uniqueKeys: true });
  } catch (err) {
    throw new InvalidInputError(`governance ${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = GovernanceFile.safeParse(raw);
  if (!parsed.success) throw new InvalidInputError(`governance ${file}: ${formatIssues(parsed.error).join('; ')}`);
  const { members, policy, admins } = parsed.data;
  const registry = {
    members,
    policy: {
      requiredApprovals: policy.requiredApprovals,
      approvalTtlSeconds: durationSeconds(policy.approvalTtl),
      requireDryRun: policy.requireDryRun,
      maxRows: policy.maxRows,
      ...(policy.roles ? { roles: policy.roles } : {}),
    },
    admins,
  };
  const checked = Registry.safeParse(registry);
  if (!checked.success)
    // The registry holds the TTL in seconds; the file wrote `approvalTtl`: name the field the file has.
    throw new InvalidInputError(
      `governance ${file}: ${formatIssues(checked.error)
        .map((m) => m.replace(/^policy\.approvalTtlSeconds: /, `policy.approvalTtl (${policy.approvalTtl}): `))
        .join('; ')}`,
    );
  return checked.data;
}
