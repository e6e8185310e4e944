// Types for render-template.mjs, so TypeScript tests import it checked.
export declare class TemplateError extends Error {
  readonly code: 'OUTPOST_ERR_TEMPLATE_SYNTAX' | 'OUTPOST_ERR_TEMPLATE_VALUES' | 'OUTPOST_ERR_TEMPLATE_USAGE';
  constructor(code: string, message: string);
}
export interface Placeholder {
  name: string;
  format: 'raw' | 'c' | 'int';
  line: number;
}
export declare function placeholders(text: string, source?: string): Placeholder[];
export declare function renderTemplate(text: string, values: Record<string, string | number | boolean>, source?: string): string;
export declare function main(argv: string[]): number;
