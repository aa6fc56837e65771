/** Runs `task` after this turn's I/O (setImmediate); where that is missing (jsdom), after a zero timeout. */
export const endOfTurn: (task: () => void) => void = typeof setImmediate === 'function' ? (task) => setImmediate(task) : (task) => setTimeout(task, 0);
