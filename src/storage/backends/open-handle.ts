import { withDetailPrefix } from '../errors.js';
import type { SqliteApi } from '../wa-sqlite-types.js';

const SQLITE_OPEN_READWRITE = 0x2;
const SQLITE_OPEN_CREATE = 0x4;

/** Opens (creating if needed) a database file on a VFS; errors name the database. */
export async function openHandle(api: SqliteApi, filename: string, vfsName: string | undefined, label: string): Promise<number> {
  try {
    return await api.open_v2(filename, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfsName);
  } catch (error) {
    throw withDetailPrefix(error, `cannot open database '${label}': `);
  }
}
