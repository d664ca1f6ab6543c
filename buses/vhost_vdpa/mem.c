// SPDX-License-Identifier: MIT
/*
 * Guest memory: the front end's regions, mapped from its fds, become the
 * device's map (iova = guest physical address). Every region is checked
 * before it is mapped (sizes, overflow, the fd's size), and the device's
 * map is updated before an old mapping goes away, so the data path never
 * reads unmapped memory.
 *
 * A front end can still shrink a region's file after it was mapped (any
 * fd but a memfd sealed against it): the next access to the lost pages
 * raises SIGBUS in whichever thread made it, which would end uvdpad and
 * every device it serves. So every mapping is also in a process-wide
 * list that a SIGBUS handler consults: a fault in one of them puts
 * anonymous memory in the region's place, the access completes, and the
 * back end hangs up on that front end (vu_backend_device_event). Faults
 * elsewhere go to the handler that was there before.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vu_internal.h"

struct vu_guard {
	uintptr_t start, end;
	struct vu_backend *b;
};

/*
 * guards_lock, a spin lock the SIGBUS handler takes too, guards the list.
 * Its holders never touch guest memory, so a handler never waits on its
 * own thread.
 */
static bool guards_lock;
static struct vu_guard *guards;
static unsigned int nguards, guards_cap;
static struct sigaction sigbus_old;
static pthread_once_t sigbus_once = PTHREAD_ONCE_INIT;

static void guards_take(void)
{
	while (__atomic_test_and_set(&guards_lock, __ATOMIC_ACQUIRE))
		;
}

static void guards_release(void)
{
	__atomic_clear(&guards_lock, __ATOMIC_RELEASE);
}

/* guards_lock held: replace @g's mapping, tell its back end. */
static bool guard_fault(const struct vu_guard *g)
{
	uint64_t one = 1;
	ssize_t n;
	void *p = mmap(
		(void *)g->start, g->end - g->start, PROT_READ | PROT_WRITE,
		MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return false;
	__atomic_store_n(&g->b->mem_lost, true, __ATOMIC_RELAXED);
	/* a full counter (EAGAIN) has an event pending anyway */
	n = write(g->b->event_fd, &one, sizeof(one));
	(void)n;
	return true;
}

static void vu_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	bool ours = false;
	int saved = errno;

	if (si->si_code > 0) { /* raised by a fault, not sent */
		guards_take();
		for (unsigned int i = 0; i < nguards && !ours; i++)
			if (a >= guards[i].start && a < guards[i].end)
				ours = guard_fault(&guards[i]);
		guards_release();
	}
	if (!ours) {
		/* the access faults again, under the old action */
		sigaction(SIGBUS, &sigbus_old, NULL);
		if (si->si_code <= 0)
			raise(SIGBUS);
	}
	errno = saved;
}

static void sigbus_install(void)
{
	struct sigaction sa = { .sa_sigaction = vu_sigbus,
				.sa_flags = SA_SIGINFO | SA_RESTART };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &sigbus_old);
}

int vu_mem_guard(struct vu_backend *b, void *map, size_t len)
{
	struct vu_guard *g;
	int ret = 0;

	pthread_once(&sigbus_once, sigbus_install);
	guards_take();
	if (nguards == guards_cap) {
		unsigned int cap = guards_cap ? 2 * guards_cap : 64;

		g = realloc(guards, cap * sizeof(*g));
		if (g) {
			guards = g;
			guards_cap = cap;
		}
	}
	if (nguards < guards_cap)
		guards[nguards++] =
			(struct vu_guard){ (uintptr_t)map, (uintptr_t)map + len,
					   b };
	else
		ret = -ENOMEM;
	guards_release();
	return ret;
}

void vu_mem_unguard(void *map)
{
	guards_take();
	for (unsigned int i = 0; i < nguards; i++) {
		if (guards[i].start == (uintptr_t)map) {
			guards[i] = guards[--nguards];
			break;
		}
	}
	if (!nguards) { /* the last back end went: no allocation left over */
		free(guards);
		guards = NULL;
		guards_cap = 0;
	}
	guards_release();
}

/* After a SIGBUS in one of @b's regions: hang up on the front end. */
bool vu_mem_lost(struct vu_backend *b)
{
	if (!__atomic_exchange_n(&b->mem_lost, false, __ATOMIC_RELAXED))
		return false;
	vu_log(b, VU_LOG_WARN,
	       "%s: the front end's memory shrank under the device: "
	       "hanging up",
	       b->vdev->name);
	/* the embedder sees the end of the stream and disconnects */
	if (b->conn_fd >= 0)
		shutdown(b->conn_fd, SHUT_RDWR);
	return true;
}

static void region_unmap(struct vu_region *r)
{
	if (r->map) {
		vu_mem_unguard(r->map);
		munmap(r->map, r->map_len);
	}
	memset(r, 0, sizeof(*r));
}

static int region_check(const struct vu_mem_region *m, int fd)
{
	struct stat st;

	if (m->size == 0 || m->guest_addr + m->size < m->guest_addr ||
	    m->user_addr + m->size < m->user_addr ||
	    m->mmap_offset + m->size < m->mmap_offset)
		return -EINVAL;
	if (fstat(fd, &st))
		return -errno;
	/* a region must lie within its file */
	if (S_ISREG(st.st_mode) &&
	    m->mmap_offset + m->size > (uint64_t)st.st_size)
		return -EINVAL;
	return 0;
}

static int region_map(struct vu_backend *b, const struct vu_mem_region *m,
		      int fd, struct vu_region *r)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), off, lead;
	struct stat st;
	void *map;
	int ret = region_check(m, fd);

	if (ret)
		return ret;
	/* hugetlbfs maps at its own page size, which st_blksize gives */
	if (!fstat(fd, &st) && (uint64_t)st.st_blksize > page &&
	    is_power_of_2((uint64_t)st.st_blksize))
		page = (uint64_t)st.st_blksize;
	off = m->mmap_offset & ~(page - 1);
	lead = m->mmap_offset - off;
	if (m->size + lead < m->size || m->size + lead > SIZE_MAX)
		return -EINVAL;
	map = mmap(NULL, m->size + lead, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_NORESERVE, fd, (off_t)off);
	if (map == MAP_FAILED)
		return -errno;
	if (vu_mem_guard(b, map, m->size + lead)) {
		munmap(map, m->size + lead);
		return -ENOMEM;
	}
	*r = (struct vu_region){
		.gpa = m->guest_addr,
		.size = m->size,
		.uva = m->user_addr,
		.mmap_offset = m->mmap_offset,
		.map = map,
		.map_len = m->size + lead,
		.hva = (char *)map + lead,
	};
	return 0;
}

/* Build a map of @regions and hand it to the device, every space. */
static int vu_mem_apply(struct vu_backend *b, const struct vu_region *regions,
			unsigned int n)
{
	const struct vdpa_config_ops *ops = b->vdev->config;
	struct vdpa_iotlb tlb;
	unsigned int as = 0;
	int ret = 0;

	if (!ops->set_map)
		return -EOPNOTSUPP; /* every uvdpa parent has set_map today */
	vdpa_iotlb_init(&tlb, VU_MAX_MEM_SLOTS);

	for (unsigned int i = 0; i < n && !ret; i++)
		ret = vdpa_iotlb_add(&tlb, regions[i].gpa, regions[i].size,
				     regions[i].hva, VDPA_PERM_RW);
	for (; as < b->vdev->nas && !ret; as++)
		ret = ops->set_map(b->vdev, as, &tlb);
	if (ret) {
		/*
		 * Spaces that took the new map (and the one that failed, which
		 * the parent may have emptied) go back to the old one before
		 * the caller unmaps the new regions.
		 */
		for (unsigned int k = 0; k < as; k++)
			ops->set_map(b->vdev, k, &b->iotlb);
		vdpa_iotlb_clear(&tlb);
		return ret;
	}
	vdpa_iotlb_clear(&b->iotlb);
	b->iotlb = tlb;
	return 0;
}

static int vu_regions_reserve(struct vu_backend *b)
{
	if (!b->regions)
		b->regions = calloc(VU_MAX_MEM_SLOTS, sizeof(*b->regions));
	return b->regions ? 0 : -ENOMEM;
}

int vu_mem_set_table(struct vu_backend *b, struct vu_msg *msg)
{
	struct vu_mem_table *t = &msg->payload.mem;
	struct vu_region fresh[VU_MAX_MEM_REGIONS] = { 0 };
	unsigned int n = t->nregions, i;
	int ret = vu_regions_reserve(b);

	if (ret)
		return ret;
	if (n > VU_MAX_MEM_REGIONS || n != msg->nfds ||
	    msg->hdr.size < 8 + n * sizeof(struct vu_mem_region))
		return -EINVAL;
	for (i = 0; i < n; i++)
		if ((ret = region_map(b, &t->regions[i], msg->fds[i],
				      &fresh[i])))
			goto out_unmap_fresh;
	ret = vu_mem_apply(b, fresh, n);
	if (ret)
		goto out_unmap_fresh;
	/* the device no longer reads the old regions: drop them */
	vu_mem_clear_regions(b);
	memcpy(b->regions, fresh, n * sizeof(fresh[0]));
	b->nregions = n;
	return 0;

out_unmap_fresh:
	for (i = 0; i < n; i++)
		region_unmap(&fresh[i]);
	return ret;
}

static bool vu_overlaps(const struct vu_backend *b, const struct vu_region *r)
{
	for (unsigned int i = 0; i < b->nregions; i++) {
		const struct vu_region *o = &b->regions[i];

		if (r->gpa < o->gpa + o->size && o->gpa < r->gpa + r->size)
			return true;
	}
	return false;
}

int vu_mem_add(struct vu_backend *b, struct vu_msg *msg)
{
	struct vu_region r;
	int ret = vu_regions_reserve(b);

	if (ret)
		return ret;
	if (msg->nfds != 1 || msg->hdr.size < sizeof(struct vu_mem_single))
		return -EINVAL;
	if (b->nregions == VU_MAX_MEM_SLOTS)
		return -ENOSPC;
	ret = region_map(b, &msg->payload.mem_reg.region, msg->fds[0], &r);
	if (ret)
		return ret;
	if (vu_overlaps(b, &r)) {
		region_unmap(&r);
		return -EEXIST;
	}
	b->regions[b->nregions] = r;
	ret = vu_mem_apply(b, b->regions, b->nregions + 1);
	if (ret) {
		region_unmap(&b->regions[b->nregions]);
		return ret;
	}
	b->nregions++;
	return 0;
}

int vu_mem_rem(struct vu_backend *b, struct vu_msg *msg)
{
	const struct vu_mem_region *m = &msg->payload.mem_reg.region;
	struct vu_region gone;
	unsigned int i;
	int ret;

	if (msg->hdr.size < sizeof(struct vu_mem_single))
		return -EINVAL;
	for (i = 0; i < b->nregions; i++)
		if (b->regions[i].gpa == m->guest_addr &&
		    b->regions[i].size == m->size)
			break;
	if (i == b->nregions)
		return -ENOENT;
	gone = b->regions[i];
	b->regions[i] = b->regions[b->nregions - 1];
	ret = vu_mem_apply(b, b->regions, b->nregions - 1);
	if (ret) {
		b->regions[b->nregions - 1] = b->regions[i];
		b->regions[i] = gone;
		return ret;
	}
	b->nregions--;
	region_unmap(&gone);
	return 0;
}

void vu_mem_clear_regions(struct vu_backend *b)
{
	for (unsigned int i = 0; i < b->nregions; i++)
		region_unmap(&b->regions[i]);
	b->nregions = 0;
}

/* After a device reset that cleaned its map. */
void vu_mem_clear(struct vu_backend *b)
{
	vu_mem_clear_regions(b);
	vdpa_iotlb_clear(&b->iotlb);
	free(b->regions);
	b->regions = NULL;
}

bool vu_uva_to_gpa(const struct vu_backend *b, uint64_t uva, uint64_t *gpa)
{
	for (unsigned int i = 0; i < b->nregions; i++) {
		const struct vu_region *r = &b->regions[i];

		if (uva >= r->uva && uva - r->uva < r->size) {
			*gpa = r->gpa + (uva - r->uva);
			return true;
		}
	}
	return false;
}
