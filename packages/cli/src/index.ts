export { main, buildProgram } from './main.js';
export { CliContext, type GlobalOptions } from './cli-context.js';
export { formatColumns } from './printers/columns.js';
export { parseJsonPathTemplate } from './printers/jsonpath-template.js';
export { tableToRows } from './printers/table-printer.js';
export { createThreeWayMergePatch } from './apply/three-way-merge.js';
