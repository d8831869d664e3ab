/**
 * The names the machines publish: `cutter`'s diagrams (toDot/toMermaid, exported from the package)
 * title each machine by its id and name its states and transitions, so a renamed machine is a visible change.
 */
import { describe, expect, it } from 'vitest';
import { toDot, toMermaid } from '../../machines/diagram.js';
import { killSwitchMachine } from '../../machines/killswitch.js';

describe('published machine names', () => {
  it('the kill-switch diagram is titled "killswitch" and shows its two states and both transitions', () => {
    const dot = toDot(killSwitchMachine);
    expect(dot.split('\n')[0]).toBe('digraph "killswitch" {');
    expect(dot).toContain('"released" -> "engaged" [label="KillSwitchEngaged"]');
    expect(dot).toContain('"engaged" -> "released" [label="KillSwitchReleased"]');
    const mermaid = toMermaid(killSwitchMachine);
    expect(mermaid.split('\n')).toEqual([
      'stateDiagram-v2',
      '  [*] --> released',
      '  state "released" as released',
      '  state "engaged" as engaged',
      '  released --> engaged: KillSwitchEngaged',
      '  engaged --> released: KillSwitchReleased',
    ]);
  });
});
