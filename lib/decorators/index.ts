// Decorators: PascalCase factories, always called with parentheses.
export { Event, Command } from './message';
export { ProcessManager, StartedBy, On, Apply, OnTimeout, OnCommandFailed } from './process-manager';
export { CommandHandler } from './command-handler';
