/*
 * qmp-call: run QMP commands over a QEMU's QMP socket, in the nested test
 * bed's L1, which has no Python for python/qemu's QMP client.
 *
 *   qmp-call SOCKET COMMAND...
 *
 * Connects to the UNIX socket SOCKET, negotiates capabilities, sends each
 * COMMAND (one JSON object) and prints its reply, one line each:
 *
 *   qmp: {"return": ...}
 *
 * Events are skipped.  Exits 0 when every command returned, 1 on an error
 * reply, 2 when the socket fails.
 *
 * Copyright (c) 2026 QEMU arm64 WC project
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static FILE *qmp;

/* The next line that is not an event, or NULL at the end of the stream. */
static char *read_reply(void)
{
    static char line[1 << 20];

    while (fgets(line, sizeof(line), qmp)) {
        if (!strstr(line, "\"event\"")) {
            line[strcspn(line, "\n")] = 0;
            return line;
        }
    }
    return NULL;
}

static int call(const char *command)
{
    char *reply;

    fprintf(qmp, "%s\n", command);
    fflush(qmp);
    reply = read_reply();
    if (!reply) {
        fprintf(stderr, "qmp-call: no reply to %s\n", command);
        exit(2);
    }
    printf("qmp: %s\n", reply);
    return strncmp(reply, "{\"return\"", 9) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd, status = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: qmp-call SOCKET COMMAND...\n");
        return 2;
    }
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", argv[1]);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        perror("qmp-call: connect");
        return 2;
    }
    qmp = fdopen(fd, "r+");
    if (!read_reply()) {        /* the greeting */
        fprintf(stderr, "qmp-call: no greeting\n");
        return 2;
    }
    if (call("{\"execute\": \"qmp_capabilities\"}")) {
        return 1;
    }
    for (int i = 2; i < argc; i++) {
        status |= call(argv[i]);
    }
    fclose(qmp);
    return status;
}
