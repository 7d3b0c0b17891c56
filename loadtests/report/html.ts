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
