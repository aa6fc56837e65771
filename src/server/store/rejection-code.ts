/**
 * The stable code of a rejected client change, from the reason it was recorded with, so that the
 * answer to a resend says it again: `forbidden` (a write rule refused it), `constraint` (its data
 * broke a database constraint or type), else `conflict` (the conflict policy refused it).
 */
export function rejectionCode(reason: string): 'forbidden' | 'conflict' | 'constraint' {
  return reason.startsWith('forbidden:') ? 'forbidden' : reason.startsWith('constraint:') ? 'constraint' : 'conflict';
}
