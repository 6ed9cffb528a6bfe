import { runCollectorContainer } from './main.js';

// The container's entry point (the image runs its bundle): see runCollectorContainer.
runCollectorContainer().catch((error: Error) => {
  console.error(JSON.stringify({ level: 'ERROR', message: 'collector did not start', error: error.message }));
  process.exit(1);
});
