/**
 * V8's profilers on this process, through the inspector: no --cpu-prof / --heap-prof flag is
 * needed, so a bench can profile only the part it measures.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

export interface InspectorSession {
  post(method: string, params?: object): Promise<any>;
  disconnect(): void;
}

export function inspectorSession(): InspectorSession {
  const session = new Session();
  session.connect();
  return {
    post: (method, params) => new Promise<any>((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result)))),
    disconnect: () => session.disconnect(),
  };
}

/** Starts the sampling CPU profiler; the returned function stops it and writes the profile to `file`. */
export async function startCpuProfiler(file: string): Promise<() => Promise<void>> {
  const session = inspectorSession();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
    console.log(`client CPU profile written to ${file} (summarise: node bench/cpuprofile-summary.mjs ${file})`);
  };
}
