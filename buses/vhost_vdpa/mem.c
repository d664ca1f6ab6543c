// SPDX-License-Identifier: MIT
/*
 * Guest memory: the front end's regions, mapped from its fds, become the
 * device's map (iova = guest physical address). Every region is checked
 * before it is mapped (sizes, overflow, the fd's size), and the device's
 * map is updated before an old mapping goes away, so the data path never
 * reads unmapped memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vu_internal.h"

static void region_unmap(struct vu_region *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
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

static int region_map(const struct vu_mem_region *m, int fd,
		      struct vu_region *r)
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
		if ((ret = region_map(&t->regions[i], msg->fds[i], &fresh[i])))
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
	ret = region_map(&msg->payload.mem_reg.region, msg->fds[0], &r);
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
