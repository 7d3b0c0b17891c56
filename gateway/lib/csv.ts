// CSV for spreadsheets (RFC 4180: CRLF rows, fields quoted when they hold a quote, comma or line
// break, quotes doubled), with cells that a spreadsheet would run as a formula defused: a leading
// =, +, -, @, tab or carriage return gets a ' in front (OWASP, "CSV Injection").
const FORMULA_START = /^[=+\-@\t\r]/

export function csvCell (value: string | number | null): string {
  if (value === null) return ''
  let text = String(value)
  // Numbers are ours, never a formula: -3 stays a number.
  if (typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

/** Rows to CSV text, a header first; every row ends in CRLF. */
export function toCsv (header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | null>>): string {
  return [header, ...rows].map((row) => `${row.map(csvCell).join(',')}\r\n`).join('')
}
