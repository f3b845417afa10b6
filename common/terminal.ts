/**
 * Text from the logs is hostile: before it reaches a terminal, every
 * character a terminal may act on is escaped.
 */

/**
 * Characters a terminal may act on: the C0 controls, DEL, the C1 controls
 * (U+009B is CSI), line and paragraph separators, and the bidirectional
 * marks (U+061C, U+200E/F), overrides and isolates that make text read
 * other than it is: every Bidi_Control character.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Text on one line with every control character escaped as `\uXXXX` (newlines too): safe to print to a terminal. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/** Lines of text, each escaped as terminalSafe does: the newlines between them stay real, nothing else gets through. */
export function terminalLines(text: string): string {
  return text.split('\n').map(terminalSafe).join('\n');
}

function escapeChar(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}
