/**
 * Diagrams generated from the machine definition itself — never drawn by hand: Mermaid for docs,
 * Graphviz DOT for reports (rendered to SVG by @viz-js/viz). A path (states visited, transitions
 * taken) can be highlighted; highlighted nodes and edges carry `class="path"` so the SVG can be
 * styled and tested.
 */
import type { AnyStateMachine, AnyStateNode } from 'xstate';

export interface Edge {
  from: string;
  event: string;
  to: string;
}

export interface Graph {
  /** State ids (dot-joined paths, e.g. `live.legA`), with compound parents. */
  nodes: { id: string; parent?: string; final: boolean; history: boolean; compound: boolean }[];
  edges: Edge[];
  initial: string;
}

const stateId = (node: AnyStateNode): string => node.path.join('.');

/** Walks `machine.root` and returns every state node and transition. */
export function machineGraph(machine: AnyStateMachine): Graph {
  const nodes: Graph['nodes'] = [];
  const edges: Edge[] = [];
  const visit = (node: AnyStateNode) => {
    if (node.path.length > 0) {
      const parent = node.path.length > 1 ? node.path.slice(0, -1).join('.') : undefined;
      nodes.push({
        id: stateId(node),
        ...(parent ? { parent } : {}),
        final: node.type === 'final',
        history: node.type === 'history',
        compound: node.type === 'compound',
      });
    }
    for (const [event, transitions] of node.transitions) {
      const seen = new Set<string>();
      for (const t of transitions) {
        for (const target of t.target ?? []) {
          const to = stateId(target);
          if (seen.has(to)) continue;
          seen.add(to);
          edges.push({ from: node.path.length ? stateId(node) : '(root)', event, to });
        }
      }
    }
    for (const child of Object.values(node.states) as AnyStateNode[]) visit(child);
  };
  visit(machine.root);
  const initial = machine.root.initial?.target?.[0] ? stateId(machine.root.initial.target[0]) : (nodes[0]?.id ?? '');
  return { nodes, edges, initial };
}

const mid = (id: string) => id.replace(/\./g, '_');

/** Mermaid stateDiagram-v2 text of the machine. */
export function toMermaid(machine: AnyStateMachine): string {
  const g = machineGraph(machine);
  const lines = ['stateDiagram-v2', `  [*] --> ${mid(g.initial)}`];
  for (const n of g.nodes) if (!n.history) lines.push(`  state "${n.id}" as ${mid(n.id)}`);
  for (const e of g.edges) lines.push(`  ${mid(e.from)} --> ${mid(e.to)}: ${e.event}`);
  for (const n of g.nodes) if (n.final) lines.push(`  ${mid(n.id)} --> [*]`);
  return lines.join('\n');
}

export interface Highlight {
  states: string[];
  transitions: Edge[];
}

const q = (s: string) => `"${s.replace(/"/g, '\\"')}"`;

/** Graphviz DOT of the machine; `highlight` marks a path with `class="path"`, colour and weight. */
export function toDot(machine: AnyStateMachine, opts: { highlight?: Highlight; title?: string } = {}): string {
  const g = machineGraph(machine);
  const onPath = new Set(opts.highlight?.states ?? []);
  const edgeOnPath = new Set((opts.highlight?.transitions ?? []).map((t) => `${t.from}|${t.event}|${t.to}`));
  const out: string[] = [
    `digraph ${q(machine.id)} {`,
    '  graph [rankdir=LR, fontname="Helvetica", fontsize=11, nodesep=0.35, ranksep=0.45, bgcolor="transparent"' +
      (opts.title ? `, label=${q(opts.title)}, labelloc=t` : '') +
      '];',
    '  node [shape=box, style="rounded,filled", fillcolor="#f4f6f8", color="#8a94a0", fontname="Helvetica", ' +
      'fontsize=10];',
    '  edge [color="#9aa3ad", fontname="Helvetica", fontsize=8, fontcolor="#5a6470"];',
    `  "__start" [shape=point, width=0.12, color="#333333", fillcolor="#333333"];`,
    `  "__start" -> ${q(g.initial)};`,
  ];
  const nodeAttrs = (n: Graph['nodes'][number]) => {
    const attrs = [`label=${q(n.id.split('.').pop() ?? n.id)}`];
    if (n.final) attrs.push('peripheries=2');
    if (onPath.has(n.id)) attrs.push('class="path"', 'fillcolor="#d9f2e3"', 'color="#1f8a4c"', 'penwidth=2');
    return attrs.join(', ');
  };
  const children = (parent?: string) => g.nodes.filter((n) => n.parent === parent && !n.history);
  const emit = (parent: string | undefined, indent: string) => {
    for (const n of children(parent)) {
      if (n.compound) {
        out.push(
          `${indent}subgraph ${q(`cluster_${n.id}`)} {`,
          `${indent}  label=${q(n.id)}; style="rounded,dashed"; color="#b0b8c0"; fontsize=10;`,
        );
        out.push(`${indent}  ${q(n.id)} [${nodeAttrs(n)}, shape=plaintext, style="", label=""];`);
        emit(n.id, indent + '  ');
        out.push(`${indent}}`);
      } else out.push(`${indent}${q(n.id)} [${nodeAttrs(n)}];`);
    }
  };
  emit(undefined, '  ');
  for (const e of g.edges) {
    const to = e.to.endsWith('.hist') ? e.to : e.to;
    const attrs = [`label=${q(e.event)}`];
    if (edgeOnPath.has(`${e.from}|${e.event}|${e.to}`))
      attrs.push('class="path"', 'color="#1f8a4c"', 'fontcolor="#1f8a4c"', 'penwidth=2.2');
    out.push(`  ${q(e.from)} -> ${q(to)} [${attrs.join(', ')}];`);
  }
  for (const n of g.nodes.filter((x) => x.history))
    out.push(`  ${q(n.id)} [label="H", shape=circle, width=0.3, fixedsize=true];`);
  out.push('}');
  return out.join('\n');
}
