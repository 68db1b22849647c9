/**
 * Point A, the SMTP mode: our scanning proxy (server side), the driver that replays a
 * corpus into any SMTP system under test, and the in-process sink it watches.
 */
export { createSmtpProxy, type SmtpProxy, type SmtpProxyOptions, type SmtpProxyTimeouts, type ProxyEvent, type InfectedAction, type FailAction } from './proxy.js';
export { createSmtpDriver, parseSmtpUrl, arrivalOutcome, plannedOffsetMs, SMTP_CONNECTION_SHAPES, type SmtpConnectionShape, type SmtpDriver, type SmtpDriverOptions, type SmtpDriverStats } from './driver.js';
export { createSmtpSink, ID_HEADER, type SmtpSink, type SmtpSinkOptions, type Arrival, type SinkRefusal } from './sink.js';
export { SmtpClient, UnansweredError, readReply, type Envelope, type TransactionResult, type TransactionStage, type SmtpClientOptions } from './client.js';
export { NextHopPool, type NextHopPoolOptions } from './pool.js';
export { carriedIntact, dotStuff, formatReply, headerBlockEnd, headerValues, lineEnding, prependHeaders, virusNamesIn, type Carried, type SmtpReply } from './wire.js';
export { coalesceWrites } from './socket.js';
