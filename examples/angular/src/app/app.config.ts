import { provideBrowserGlobalErrorListeners, provideZonelessChangeDetection, type ApplicationConfig } from '@angular/core';
import { provideSync } from './sync';

/** The sync server: ?sync=ws://host:port/path, else /api/sync on the page's origin (`ng serve` proxies it, proxy.conf.json). */
function syncUrl(): string {
  const given = new URLSearchParams(location.search).get('sync');
  return given ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/sync`;
}

export const appConfig: ApplicationConfig = {
  providers: [provideZonelessChangeDetection(), provideBrowserGlobalErrorListeners(), provideSync({ url: syncUrl(), database: 'angular-example' })],
};
