/** `cutter killswitch engage|release|status`: formatting only. */
import { killSwitchStatus, setKillSwitch } from '../../killswitch/index.js';
import type { KillSwitchState } from '../../domain/index.js';
import type { Session } from '../../workspace/session.js';
import type { Output } from '../output.js';
import { EXIT } from '../../errors.js';

/** ` (by dana, since …)`, either part when known. */
const engagedBy = (k: KillSwitchState) =>
  `${k.by ? ` (by ${k.by}` : ''}${k.since ? `${k.by ? ', ' : ' ('}since ${k.since})` : k.by ? ')' : ''}`;

const human = (out: Output, k: KillSwitchState) =>
  k.engaged
    ? `  kill-switch ${out.color.red('ENGAGED')}${k.reason ? `: ${k.reason}` : ''}${engagedBy(k)}`
    : `  kill-switch ${out.color.green('released')}`;

export async function engage(s: Session, out: Output, reason: string): Promise<number> {
  const k = await setKillSwitch(s, { action: 'engage', reason });
  out.result(k, () => human(out, k));
  return EXIT.ok;
}

export async function release(s: Session, out: Output): Promise<number> {
  const k = await setKillSwitch(s, { action: 'release' });
  out.result(k, () => human(out, k));
  return EXIT.ok;
}

export async function status(s: Session, out: Output): Promise<number> {
  const k = await killSwitchStatus(s);
  out.result(k, () => human(out, k));
  return EXIT.ok;
}
