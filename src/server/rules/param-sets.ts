/**
 * One user's subquery sets (`list_id IN (SELECT list_id FROM list_members WHERE user_id =
 * auth.sub)` is the set of list ids of Bob's membership rows). Each value is counted by the rows
 * that put it there, so a value two rows contribute stays when one of them goes: that is how a
 * row reachable two ways stays with the user when one way closes.
 */
export class ParamSets {
  private readonly sets = new Map<number, Map<string, { value: unknown; rows: number }>>();

  /** Whether `value` is in set `id`. */
  has(id: number, value: unknown): boolean {
    return this.sets.get(id)?.has(valueKey(value)) ?? false;
  }

  /** The values of set `id`. */
  values(id: number): unknown[] {
    return [...(this.sets.get(id)?.values() ?? [])].map((entry) => entry.value);
  }

  /** One more row puts `value` in set `id`; true when the value is new to the set. */
  add(id: number, value: unknown): boolean {
    let set = this.sets.get(id);
    if (!set) this.sets.set(id, (set = new Map()));
    const key = valueKey(value);
    const entry = set.get(key);
    if (entry) {
      entry.rows += 1;
      return false;
    }
    set.set(key, { value, rows: 1 });
    return true;
  }

  /** One row less puts `value` in set `id`; true when that was the last one (the value left the set). */
  remove(id: number, value: unknown): boolean {
    const set = this.sets.get(id);
    const key = valueKey(value);
    const entry = set?.get(key);
    if (!entry) return false;
    entry.rows -= 1;
    if (entry.rows > 0) return false;
    set!.delete(key);
    return true;
  }

  /** A copy, to judge rows by the sets as they were before a change. */
  clone(): ParamSets {
    const copy = new ParamSets();
    for (const [id, set] of this.sets) copy.sets.set(id, new Map([...set].map(([key, entry]) => [key, { ...entry }])));
    return copy;
  }
}

/**
 * A value as a map key that keeps 1 and '1' apart (SQL keeps them apart too: the rules checked
 * that a set's values and the column compared with them have one type).
 */
export function valueKey(value: unknown): string {
  return typeof value === 'number' ? `n:${value}` : typeof value === 'string' ? `s:${value}` : `o:${JSON.stringify(value)}`;
}
