/* SPDX-License-Identifier: Apache-2.0 */
/* nvlink_pair: two processes of one node move bytes GPU to GPU with an
 * evpool transport. The program starts its own peer:
 *
 *   exporter (child)  allocates 1 MiB on GPU 0, registers it, sends the
 *                     segment's descriptor over a Unix socket, waits, and
 *                     checks that every byte arrived;
 *   importer (parent) imports the descriptor, WRITEs 1 MiB from its own
 *                     registered GPU buffer, polls until done, frees.
 *
 * No event is created per submit: the sub-batch leases one from the pool of
 * the device whose stream runs the copy. Exits 0 on success, 1 on an
 * error, 77 without a GPU. */
#include <cuda_runtime_api.h>
#include <evpool/evpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LEN (1u << 20)

#define TRY(call)                                                                          \
    do {                                                                                   \
        int rc_ = (call);                                                                  \
        if (rc_ != 0) {                                                                    \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, evp_strerror(rc_)); \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

static int exporter(int sock)
{
    char go;
    if (recv(sock, &go, 1, 0) != 1) /* the importer found no GPU */
        return 0;
    evp_transport_t *t;
    TRY(evp_transport_open(EVP_TRANSPORT_NVLINK, NULL, &t));
    void *buf;
    TRY(evp_transport_mem_alloc(t, 0, LEN, &buf)); /* cudaMalloc on GPU 0 */
    if (cudaMemset(buf, 0, LEN) != cudaSuccess)
        return 1;
    evp_segment_t seg;
    TRY(evp_transport_register(t, buf, LEN, &seg));
    unsigned char desc[EVP_TRANSPORT_DESC_MAX];
    size_t len;
    int fd; /* -1 for nvlink: the CUDA IPC handle is in the bytes */
    TRY(evp_transport_export(t, seg, desc, sizeof desc, &len, &fd));
    TRY(evp_transport_desc_send(sock, desc, len, fd)); /* or the engine's metadata store */

    char done = 0;
    if (recv(sock, &done, 1, 0) != 1)
        return 1;
    unsigned char *host = malloc(LEN);
    size_t ok = 0;
    if (host && cudaMemcpy(host, buf, LEN, cudaMemcpyDeviceToHost) == cudaSuccess)
        while (ok < LEN && host[ok] == 0xab)
            ok++;
    printf("exporter: %zu of %u bytes arrived\n", ok, LEN);
    free(host);
    TRY(evp_transport_unregister(t, seg));
    TRY(evp_transport_mem_free(t, buf));
    TRY(evp_transport_close(t));
    char verdict = ok == LEN;
    send(sock, &verdict, 1, 0);
    return verdict ? 0 : 1;
}

static int importer(int sock)
{
    char go = 1;
    send(sock, &go, 1, 0);
    evp_transport_t *t;
    TRY(evp_transport_open(EVP_TRANSPORT_NVLINK, NULL, &t));
    unsigned char desc[EVP_TRANSPORT_DESC_MAX];
    size_t len;
    int fd;
    TRY(evp_transport_desc_recv(sock, desc, sizeof desc, &len, &fd));
    evp_segment_t remote;
    TRY(evp_transport_import(t, desc, len, fd, -1, &remote)); /* opens the IPC handle once */

    void *local; /* registered: the copy's stream (and event) are its device's */
    if (cudaSetDevice(0) != cudaSuccess || cudaMalloc(&local, LEN) != cudaSuccess ||
        cudaMemset(local, 0xab, LEN) != cudaSuccess || cudaDeviceSynchronize() != cudaSuccess)
        return 1;
    evp_segment_t mine;
    TRY(evp_transport_register(t, local, LEN, &mine));

    evp_batch_t b;
    TRY(evp_transport_batch_alloc(t, 8, &b));
    evp_xfer_req_t req = {EVP_XFER_WRITE, local, remote, 0, LEN};
    TRY(evp_transport_submit(t, b, &req, 1, NULL));
    evp_batch_status_t st;
    do {
        TRY(evp_transport_status(t, b, &st));
    } while (st.status == EVP_TASK_PENDING);
    printf("importer: status %s, %llu bytes\n", st.status == EVP_TASK_COMPLETED ? "COMPLETED" : "FAILED",
           (unsigned long long)st.transferred_bytes);
    TRY(evp_transport_batch_free(t, b));
    TRY(evp_transport_unimport(t, remote));
    TRY(evp_transport_unregister(t, mine));
    TRY(evp_transport_close(t));
    cudaFree(local);

    char done = 1, verdict = 0;
    send(sock, &done, 1, 0);
    if (recv(sock, &verdict, 1, 0) != 1)
        verdict = 0;
    return st.status == EVP_TASK_COMPLETED && verdict ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--exporter") == 0)
        return exporter(atoi(argv[2]));
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0)
        return 1;
    pid_t pid = fork(); /* before any CUDA call here; the child execs */
    if (pid == 0) {
        char arg[16];
        close(sv[0]);
        snprintf(arg, sizeof arg, "%d", sv[1]);
        execl("/proc/self/exe", argv[0], "--exporter", arg, (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    int n = 0, rc;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n < 1) {
        printf("no GPU: skipped\n");
        close(sv[0]);
        rc = 77;
    } else {
        rc = importer(sv[0]);
        close(sv[0]);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
        rc = 1;
    return rc;
}
