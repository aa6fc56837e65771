/**
 * A live query's update as the worker sends it to a tab: the splices that turn the list the tab has
 * into the new one, or the whole list (the first update, a query run again). A commit that changes
 * one row of a 50,000-row result then crosses postMessage as that row, not as 50,000 rows. No
 * engine code: the tab's bundle carries this.
 */
export interface Splice<T> {
  /** Where, in the list as the splices before this one left it. */
  at: number;
  remove: number;
  insert: T[];
}

export type ListPatch<T> = { rows: T[] } | { splices: Splice<T>[] };

/** The list after `patch`: a new array (the one given is left as it was: a subscriber may hold it). */
export function applyListPatch<T>(list: readonly T[], patch: ListPatch<T>): T[] {
  if ('rows' in patch) return patch.rows;
  const next = list.slice();
  for (const { at, remove, insert } of patch.splices) next.splice(at, remove, ...insert);
  return next;
}
