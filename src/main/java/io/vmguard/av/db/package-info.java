/**
 * ClamAV's database formats as users have them: hash (.hdb/.hsb), section-hash (.mdb/.msb), body (.ndb) and
 * logical (.ldb) signatures, allow lists (.fp/.sfp), ignore lists (.ign2), and the .cvd/.cld/.cud containers
 * (a 512-byte header, then a tar or tar.gz; the header's MD5 and Talos's RSA signature checked). Lines are
 * parsed into signatures or rejected with their line number; functionality levels applied as ClamAV 1.4.
 */
package io.vmguard.av.db;
