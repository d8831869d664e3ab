/**
 * Tests read stored event data by the shape they just wrote (the product parses it at its edges:
 * `parseStored`, `fieldOf`). Untyped on purpose: a wrong field fails the assertion that reads it.
 */
export const dataOf = (e: { data: unknown }): any => e.data;
