/**
 * The expected-revision oneof of Append, BatchAppend, Delete and Tombstone requests,
 * and its echo in wrong-expected-version replies.
 */
import { Empty as GoogleEmpty } from 'google-protobuf/google/protobuf/empty_pb';
import { WrongExpectedVersion as SharedWrongExpectedVersion } from '@eventstore/db-client/generated/shared_pb';
import { AppendResp } from '@eventstore/db-client/generated/streams_pb';
import type { WrongExpectedVersionError } from '../../errors';
import type { ExpectedRevision } from '../../storage/types';
import { empty, parseU64 } from '../wire';

/** The accessors every request options message with an expected revision has. */
export interface WireExpectedRevision {
  hasNoStream(): boolean;
  hasAny(): boolean;
  hasStreamExists(): boolean;
}

/**
 * Reads the expected revision; `revisionText` is the exact-revision field (named
 * `revision` or `stream_position` depending on the message), or undefined when unset.
 *
 * @returns undefined when the exact revision is not a u64
 */
export function parseExpectedRevision(
  options: WireExpectedRevision,
  revisionText: string | undefined,
): ExpectedRevision | undefined {
  if (revisionText !== undefined) return parseU64(revisionText);
  if (options.hasNoStream()) return 'no_stream';
  if (options.hasStreamExists()) return 'stream_exists';
  // An unset oneof means `any`, as in EventStoreDB.
  return 'any';
}

function expectedOf(error: WrongExpectedVersionError): ExpectedRevision {
  const { expected } = error;
  if (typeof expected === 'bigint') return expected;
  if (expected === 'no_stream' || expected === 'stream_exists') return expected;
  return 'any';
}

/** Append's in-body wrong-expected-version reply, with the deprecated 20.6 fields the real server also fills. */
export function toAppendWrongExpectedVersion(error: WrongExpectedVersionError): AppendResp {
  const wrong = new AppendResp.WrongExpectedVersion();
  if (error.actual === undefined) wrong.setCurrentNoStream(empty()).setNoStream2060(empty());
  else wrong.setCurrentRevision(error.actual.toString()).setCurrentRevision2060(Number(error.actual));
  const expected = expectedOf(error);
  if (typeof expected === 'bigint') {
    wrong.setExpectedRevision(expected.toString()).setExpectedRevision2060(Number(expected));
  } else if (expected === 'no_stream') wrong.setExpectedNoStream(empty());
  else if (expected === 'stream_exists') wrong.setExpectedStreamExists(empty()).setStreamExists2060(empty());
  else wrong.setExpectedAny(empty()).setAny2060(empty());
  return new AppendResp().setWrongExpectedVersion(wrong);
}

/** BatchAppend's `event_store.client.WrongExpectedVersion` status detail. */
export function toSharedWrongExpectedVersion(error: WrongExpectedVersionError): SharedWrongExpectedVersion {
  const wrong = new SharedWrongExpectedVersion();
  if (error.actual === undefined) wrong.setCurrentNoStream(new GoogleEmpty());
  else wrong.setCurrentStreamRevision(error.actual.toString());
  const expected = expectedOf(error);
  if (typeof expected === 'bigint') wrong.setExpectedStreamPosition(expected.toString());
  else if (expected === 'no_stream') wrong.setExpectedNoStream(new GoogleEmpty());
  else if (expected === 'stream_exists') wrong.setExpectedStreamExists(new GoogleEmpty());
  else wrong.setExpectedAny(new GoogleEmpty());
  return wrong;
}
