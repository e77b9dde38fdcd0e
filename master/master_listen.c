/* placeholder */
typedef int placeholder_unused_t;
