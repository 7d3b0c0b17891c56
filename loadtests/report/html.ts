// Escaping for text and attribute values in the report's HTML and SVG: every string that comes
// from a summary (profile names, targets, SLO names, status classes, transaction types) goes
// through here, so a name like `<script>` shows as text.

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** `value` made safe for HTML or SVG text and for a double- or single-quoted attribute. */
export function escapeHtml (value: string): string {
  return value.replace(/[&<>"']/g, (c) => ENTITIES[c] as string)
}

/** A name made into a token for data attributes and ids: lower-case letters, digits and dashes. */
export function slug (value: string): string {
  return value.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'x'
}

// No script at all: the pages only need their inline style and, in principle, data: images.
export const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

/** A complete, self-contained report page: the strict CSP, the title (escaped here), the style and the main content. */
export function reportPage (title: string, style: string, main: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${style}</style>
</head>
<body>
<main>
${main}
</main>
</body>
</html>
`
}
