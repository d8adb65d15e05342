/*
 * spiffe.h - the public interface of libspiffe, in one include.
 *
 * Programs include this header only.  Every function and type is
 * prefixed spiffe_ (macros and enum values SPIFFE_); fallible functions
 * return 0 or a negative enum spiffe_err and, where a person needs
 * detail, fill a caller-supplied spiffe_errbuf.
 *
 * Layers, bottom up (each header documents its own module):
 *   err, limits, clock, rng         errors, bounds, time, randomness
 *   b64, json                       strict codecs
 *   spiffeid, bundle, x509svid,     identity: IDs, bundles, X.509-SVIDs,
 *   jwtsvid                         JWT-SVIDs
 *   address, workloadapi            the Workload API client and sources
 *   tls, httpd, httpc, http1        SPIFFE TLS and HTTPS transport
 *   jwtauth, rproxy                 JWT-SVID bearer authentication of
 *                                   requests; a SPIFFE reverse proxy
 *   cli, log                        flags and Go-style log lines for the
 *                                   programs
 * The protocol cores (hpack, h2, grpc) and the agent's modules are the
 * library's own and are not part of this interface.
 */
#ifndef SPIFFE_H
#define SPIFFE_H

#include "err.h"
#include "limits.h"
#include "clock.h"
#include "rng.h"
#include "b64.h"
#include "utf8.h"
#include "json.h"
#include "spiffeid.h"
#include "bundle.h"
#include "x509svid.h"
#include "jwtsvid.h"
#include "address.h"
#include "workloadapi.h"
#include "tls.h"
#include "http1.h"
#include "httpd.h"
#include "httpc.h"
#include "jwtauth.h"
#include "rproxy.h"
#include "cli.h"
#include "log.h"

#endif
