/**
 * The lab: real third-party daemons started on loopback with generated configs, free
 * ports, recorded PIDs, and a stop() that removes everything (tests and `avbench lab up`).
 */
export { startLabDaemon, requireProgram, smtpListener, milterListener, whenGreeting, whenListening, type LabProcess, type LabListener, type LabMilterListener, type LabLaunch, type LabReadiness, type LabDaemonSpec } from './daemon.js';
export { startClamd, waitForClamd, type LabClamd, type StartClamdOptions } from './clamd.js';
export { startCicap, cicapConfig, icapOptionsOk, type LabCicap, type StartCicapOptions } from './cicap.js';
export { writeSignatureDb, eicar, eicarNdbLine, EICAR_NDB_NAME, CLAM_EXE_HDB_NAME, CLAM_EXE_HDB_LINE } from './signatures.js';
export { startClamavMilter, clamavMilterConfig } from './clamav-milter.js';
export { startClamsmtpd } from './clamsmtpd.js';
export { startRspamd, rspamdConfig, type LabRspamd, type StartRspamdOptions } from './rspamd.js';
export { startHaraka, findHaraka, harakaConfig, type LabHaraka, type StartHarakaOptions } from './haraka.js';
export { startExim, findExim, eximConfig, type LabExim, type StartEximOptions } from './exim.js';
export { startSendmail, findSendmail, sendmailMc, sendmailCf, type LabSendmail, type StartSendmailOptions } from './sendmail.js';
export { startAmavis, startAmavisGateway, startAmavisdMilter, findAmavisd, amavisConfig, type LabAmavis, type LabAmavisGateway, type LabAmavisdMilter, type StartAmavisOptions } from './amavis.js';
export { startSmtpSink } from './smtp-sink.js';
export { startPostfix, countSent } from './postfix.js';
export { startPostfixFront, startPostfixReinject, postfixFrontSutUrl, type LabPostfixFront, type LabPostfixReinject } from './postfix-front.js';
export { createProcmailSut, procmailRc } from './procmail.js';
export { startAvbenchServe, startPostfixAvbench, POSTFIX_AVBENCH_SUT, type AvbenchServeKind, type LabAvbenchServe, type LabPostfixAvbench, type StartAvbenchServeOptions, type StartPostfixAvbenchOptions } from './avbench-serve.js';
