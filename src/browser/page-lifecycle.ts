/**
 * A page's visibility for BackupAndRestore: `visibilitychange` to hidden (the user switched
 * tabs, minimized the window, locked the screen, or is closing the tab: Chromium fires it
 * before unloading) and `pagehide` (the page is being unloaded or put in the back/forward cache).
 */
import type { PageLifecycle } from '../platform.js';

export const pageLifecycle: PageLifecycle = {
  onHidden(handler) {
    const onVisibility = () => {
      if (document.visibilityState === 'hidden') handler('hidden');
    };
    const onPageHide = () => handler('pagehide');
    document.addEventListener('visibilitychange', onVisibility);
    globalThis.addEventListener('pagehide', onPageHide);
    return () => {
      document.removeEventListener('visibilitychange', onVisibility);
      globalThis.removeEventListener('pagehide', onPageHide);
    };
  },
  hidden: () => document.visibilityState === 'hidden',
  whenVisible: () =>
    new Promise<void>((resolve) => {
      if (document.visibilityState !== 'hidden') return resolve();
      const onVisibility = () => {
        if (document.visibilityState === 'hidden') return;
        document.removeEventListener('visibilitychange', onVisibility);
        resolve();
      };
      document.addEventListener('visibilitychange', onVisibility);
    }),
};
