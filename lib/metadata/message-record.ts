import { type Class, readClassRecord, updateClassRecord } from './class-record';

/** Where `@Event` / `@Command` store a message class's type name. */
export const MESSAGE_RECORD_KEY: symbol = Symbol.for('sagastream:message');

/** Whether a message class is an event (past tense, appended to streams) or a command. */
export type MessageKind = 'event' | 'command';

/** The record `@Event('Name')` or `@Command('Name')` leaves on a class. */
export interface MessageRecord {
  readonly kind: MessageKind;
  /** The type name written to the store, e.g. `OrderPlaced`. */
  readonly type: string;
}

/** The message record of `target`, or undefined when it is not decorated. */
export function messageRecordOf(target: Class): MessageRecord | undefined {
  return readClassRecord<MessageRecord>(MESSAGE_RECORD_KEY, target);
}

/** Stores the message record of `target` (replacing any previous one). */
export function defineMessageRecord(target: Class, record: MessageRecord): MessageRecord {
  return updateClassRecord<MessageRecord>(MESSAGE_RECORD_KEY, target, () => ({ ...record }));
}
