/** Prints the cut machine's diagram, generated from its definition: `npm run diagram [-- --dot]`. */
import { cutMachine } from '../machines/cut.js';
import { toDot, toMermaid } from '../machines/diagram.js';

process.stdout.write(`${process.argv.includes('--dot') ? toDot(cutMachine) : toMermaid(cutMachine)}\n`);
